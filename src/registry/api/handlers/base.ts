import type { Handler } from '../handler.js';
import { sendBytes, sendJson } from '../respond.js';

/**
 * `GET /v2/` (end-1): 200 with an empty JSON object. The API-version header every response
 * carries (`Docker-Distribution-API-Version: registry/2.0`) is what clients look for here.
 */
export const getBase: Handler<Record<string, never>> = async (ctx) => {
  sendJson(ctx, 200, {});
};

/** `GET /healthz`: 200 `ok` while the process serves requests (a liveness probe). */
export const getHealth: Handler<Record<string, never>> = async (ctx) => {
  sendBytes(ctx, 200, Buffer.from('ok'), { 'Content-Type': 'text/plain; charset=utf-8' });
};
