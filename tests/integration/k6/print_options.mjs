// Print a k6 suite's exported `options` as JSON: node --import ./register_k6_stubs.mjs print_options.mjs FILE
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const mod = await import(pathToFileURL(resolve(process.argv[2])).href);
if (typeof mod.default !== 'function') {
  throw new Error(`${process.argv[2]} has no default function`);
}
process.stdout.write(JSON.stringify(mod.options ?? null));
