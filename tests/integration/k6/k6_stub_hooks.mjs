// ESM resolve/load hooks that stand in for k6's built-in modules, so node can import a suite and
// print its `options` (k6 itself is AGPL and not obtainable here; these stubs only satisfy imports).
const STUBS = {
  'k6': 'export function check() { return true; } export function group(_n, fn) { return fn(); } ' +
        'export function sleep() {} export function fail(m) { throw new Error(m); } export default {};',
  'k6/http': 'export function get() { return { status: 200 }; } export function post() { return { status: 200 }; } ' +
             'export function request() { return { status: 200 }; } export function batch() { return []; } ' +
             'export default { get, post, request, batch };',
};

export async function resolve(specifier, context, nextResolve) {
  if (Object.prototype.hasOwnProperty.call(STUBS, specifier)) {
    return { url: `k6stub:${specifier}`, shortCircuit: true };
  }
  if (specifier.startsWith('k6/') || specifier.startsWith('https://jslib.k6.io/')) {
    throw new Error(`no stub for k6 module ${specifier}: add one to k6_stub_hooks.mjs`);
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('k6stub:')) {
    return { format: 'module', source: STUBS[url.slice('k6stub:'.length)], shortCircuit: true };
  }
  return nextLoad(url, context);
}
