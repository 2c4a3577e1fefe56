import { readFile } from 'node:fs/promises';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_ICON } from './dashboard-page.js';

/**
 * Everything the page may load comes from here, and nothing else: the policy forbids inline
 * scripts and styles and any other origin, so a value the page shows can never run as code.
 * `connect-src` lets it open the protocol's WebSocket (ws:/wss:) and read /healthz.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** Browser modules: the web build (tsconfig.web.json) of the dashboard, the client and the protocol. */
const WEB_ROOT = new URL('../../web/', import.meta.url);
/** Only plain `dir/name.js` paths under the web build: no `..`, no other extension. */
const MODULE_PATH = /^\/dashboard\/js\/((?:client|dashboard|protocol)\/[a-z0-9-]+\.js)$/;

export interface Asset {
  type: string;
  body: string | Buffer;
  headers: Record<string, string>;
}

/** Serves `/dashboard` (the page), its stylesheet and its ES modules. */
export class DashboardAssets {
  private readonly modules = new Map<string, Buffer>();

  async get(path: string): Promise<Asset | undefined> {
    if (path === '/dashboard' || path === '/dashboard/') return { type: 'text/html; charset=utf-8', body: DASHBOARD_HTML, headers: HEADERS };
    if (path === '/dashboard/favicon.svg') return { type: 'image/svg+xml', body: DASHBOARD_ICON, headers: HEADERS };
    if (path === '/dashboard/dashboard.css') return { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS, headers: HEADERS };
    const m = MODULE_PATH.exec(path);
    if (!m) return undefined;
    let body = this.modules.get(m[1]!);
    if (!body) {
      try {
        body = await readFile(new URL(m[1]!, WEB_ROOT));
      } catch {
        return undefined; // not built, or not a module of the web build: 404
      }
      this.modules.set(m[1]!, body);
    }
    return { type: 'text/javascript; charset=utf-8', body, headers: HEADERS };
  }
}
