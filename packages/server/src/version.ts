import type { ServerVersion } from '@gearmanode/protocol';

// The gearmand release whose admin replies the server reproduces.
const GEARMAND_VERSION = '1.1.20';

/** This package's version (kept in step with package.json). */
export const VERSION = '0.1.0';

/**
 * What the admin command `version` answers: the gearmand release whose behaviour the server
 * follows, with this package as the build suffix, like Debian's `1.1.20+ds`. Clients that parse
 * the leading dotted number
 * ([protocol.md section 11](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#11-gearmand-1120-as-observed),
 * item 36) see a 1.1.20.
 */
export const ADMIN_VERSION: ServerVersion = {
  raw: `${GEARMAND_VERSION}+gearmanode.${VERSION}`,
  version: GEARMAND_VERSION,
};
