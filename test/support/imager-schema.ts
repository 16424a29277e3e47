/**
 * A Raspberry Pi Imager repository (`{ "os_list": [...] }`) as Imager documents it
 * (rpi-imager's doc/schema-notes.md and doc/json-schema/os-list-schema.json): the fields every
 * OS entry must have, typed; `init_format` allowed. Written from the documentation, not from
 * our code, so the release tests check our output against it.
 *
 *   new Ajv().compile(IMAGER_SCHEMA)(JSON.parse(text));
 */
const SHA256 = { type: 'string', pattern: '^[0-9a-f]{64}$' };

export const IMAGER_ENTRY_SCHEMA = {
  type: 'object',
  required: ['name', 'description', 'icon', 'url', 'extract_size', 'extract_sha256', 'image_download_size', 'image_download_sha256', 'release_date', 'devices'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string', minLength: 1 },
    icon: { type: 'string', pattern: '^https?://' },
    url: { type: 'string', pattern: '^https?://' },
    extract_size: { type: 'integer', minimum: 1 },
    extract_sha256: SHA256,
    image_download_size: { type: 'integer', minimum: 1 },
    image_download_sha256: SHA256,
    release_date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    devices: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    init_format: { type: 'string' },
  },
};

export const IMAGER_SCHEMA = { type: 'object', required: ['os_list'], properties: { os_list: { type: 'array', items: IMAGER_ENTRY_SCHEMA } } };
