import { describe, expect, it } from 'vitest';
import { hostFindings, NOTSENT_LOWAT_REPORTED_ABOVE, readSysctl, RECOMMENDED_NOTSENT_LOWAT } from './host-tuning.js';

const host = (settings: Record<string, string>) => (name: string) => settings[name];

describe('host tuning at start', () => {
  it("reports Linux's default (unlimited) with the send queue a slow reader can fill and the command that fixes it", () => {
    const [f, ...rest] = hostFindings(host({ 'net.ipv4.tcp_notsent_lowat': '4294967295', 'net.ipv4.tcp_wmem': '4096\t16384\t4194304' }));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ setting: 'net.ipv4.tcp_notsent_lowat', value: 'unlimited', recommended: '131072' });
    expect(f!.message).toContain('up to 4096 KiB of unsent response');
    expect(f!.fix).toContain('sysctl -w net.ipv4.tcp_notsent_lowat=131072');
    expect(f!.fix).toContain('docker run --sysctl net.ipv4.tcp_notsent_lowat=131072');
  });

  it('says nothing once the setting bounds the queue (the recommended value, or anything up to 1 MiB)', () => {
    expect(hostFindings(host({ 'net.ipv4.tcp_notsent_lowat': String(RECOMMENDED_NOTSENT_LOWAT) }))).toEqual([]);
    expect(hostFindings(host({ 'net.ipv4.tcp_notsent_lowat': '16384' }))).toEqual([]);
    expect(hostFindings(host({ 'net.ipv4.tcp_notsent_lowat': String(NOTSENT_LOWAT_REPORTED_ABOVE) }))).toEqual([]);
    expect(hostFindings(host({ 'net.ipv4.tcp_notsent_lowat': '8388608' }))[0]?.value).toBe('8388608');
  });

  it('says nothing where the setting cannot be read (not Linux, no /proc)', () => {
    expect(hostFindings(host({}))).toEqual([]);
    expect(hostFindings(host({ 'net.ipv4.tcp_notsent_lowat': 'garbage' }))).toEqual([]);
  });

  it("reads this machine's /proc/sys: the finding matches the kernel's value", () => {
    const value = readSysctl('net.ipv4.tcp_notsent_lowat');
    if (process.platform !== 'linux') return expect(value).toBeUndefined();
    expect(Number(value)).toBeGreaterThan(0);
    expect(hostFindings().length).toBe(Number(value) > NOTSENT_LOWAT_REPORTED_ABOVE ? 1 : 0);
  });
});
