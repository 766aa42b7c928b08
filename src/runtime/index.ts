export { buildRuntime, type Runtime } from './build.js';
