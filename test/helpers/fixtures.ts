import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository's test/ folder, from the compiled test location (test/dist/...). */
export const TEST_DIR = fileURLToPath(new URL('../../', import.meta.url));

export function fixtureCsr(name: string): string {
  return readFileSync(`${TEST_DIR}fixtures/csr/${name}.csr.pem`, 'utf8');
}
