/**
 * The `admin` section: the admin entry point (issue 9) serving `/metrics` (Prometheus), a status page for a person
 * (`/`) and the JSON API (`/api/status`). Off when the section is absent. Composed into the root by schema.ts.
 */
import { Type, type Static } from '@sinclair/typebox';

import { ADMIN_DEFAULT_ADDRESS } from './option-defaults.js';

export { ADMIN_DEFAULT_ADDRESS } from './option-defaults.js';

export const AdminSchema = Type.Object(
  {
    address: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Where the admin entry point listens. The default is loopback only: metrics and the status page name every router, backend and certificate, so expose them on purpose (`:8081`, best with basicAuth).',
        default: ADMIN_DEFAULT_ADDRESS,
        examples: ['127.0.0.1:8081', ':8081', '[::1]:8081'],
      }),
    ),
    basicAuth: Type.Optional(
      Type.Object(
        {
          users: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            description: 'htpasswd lines `name:hash` (bcrypt `$2y$`, apr1 `$apr1$`, `{SHA}`), as in the basicAuth middleware. Every admin path then needs one of them.',
            examples: [['admin:$2y$10$...']],
          }),
          realm: Type.Optional(Type.String({ minLength: 1, description: 'Realm named in the 401 challenge.', default: 'gatehouse admin' })),
        },
        { additionalProperties: false, description: 'HTTP basic authentication (RFC 7617) on every admin path, `/metrics` included.' },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'The admin entry point: `/metrics` (Prometheus text format), `/` (status page), `/api/status` (JSON, what `gatehouse status --admin URL` reads). Off when absent. A reload applies changes (a new address is bound before the old one closes; removing the section closes it); adding the section to a running gatehouse that started without it takes a restart.',
  },
);

export type AdminConfig = Static<typeof AdminSchema>;
