// node --import ./register_k6_stubs.mjs: install the k6 stubs and k6's __ENV global.
import { register } from 'node:module';

globalThis.__ENV = { ...process.env };
register('./k6_stub_hooks.mjs', import.meta.url);
