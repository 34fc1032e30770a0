/** Defaults of `nv2 registry`, in a module of their own so that help text costs no imports. */
export const DEFAULT_ADDR = '127.0.0.1:5000';
export const DEFAULT_ROOT = './nv2-data';
