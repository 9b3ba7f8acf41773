// Reached from index.mjs: renames files through fs/promises.
import { rename } from 'fs/promises';
export async function store(name) {
  await rename(`/tmp/${name}.new`, `/tmp/${name}`);
}
