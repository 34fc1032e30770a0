import { isIP } from 'node:net';

/**
 * Which requests go through a proxy, as docker and notation decide it (Go's
 * `http.ProxyFromEnvironment`): `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http URLs,
 * the upper-case name first and the lower-case one second, and `NO_PROXY` for the hosts
 * reached directly. Requests to loopback hosts never use a proxy.
 *
 * `NO_PROXY` is a comma-separated list of: `*` (no proxy at all); a domain name, which
 * matches itself and its subdomains (`example.com`), or its subdomains only with a leading
 * `.` or `*.`; an IP address; a CIDR range (`10.0.0.0/8`); a name or address with `:port`
 * matches that port only.
 */

/** Where requests go: the proxy URL of each scheme, and the hosts reached directly. */
export interface ProxyConfig {
  /** The proxy of https requests (tunnelled with CONNECT). */
  readonly httpsProxy?: URL | undefined;
  /** The proxy of plain http requests (sent to it with the absolute URL). */
  readonly httpProxy?: URL | undefined;
  /** The `NO_PROXY` entries. */
  readonly noProxy?: readonly string[] | undefined;
}

/** An environment, as faces pass it in (`process.env`). */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

function proxyUrl(value: string | undefined): URL | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  // As Go: a value without a scheme is an http proxy ("proxy.example:3128").
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

function first(env: ProxyEnv, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/**
 * The proxy configuration of an environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, each
 * also lower-case). Values that are not http(s) URLs are ignored, as Go ignores them.
 *
 * @example proxyFromEnv(process.env)
 */
export function proxyFromEnv(env: ProxyEnv): ProxyConfig {
  const noProxy = first(env, ['NO_PROXY', 'no_proxy']);
  return {
    httpsProxy: proxyUrl(first(env, ['HTTPS_PROXY', 'https_proxy'])),
    httpProxy: proxyUrl(first(env, ['HTTP_PROXY', 'http_proxy'])),
    noProxy: (noProxy ?? '')
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry !== ''),
  };
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

/** `a.b.c.d` as a 32-bit number, or undefined; IPv6 ranges compare as strings (exact only). */
function ipv4(value: string): number | undefined {
  if (isIP(value) !== 4) return undefined;
  return value.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const prefix = Number(bits);
  const address = ipv4(host);
  const network = ipv4(base ?? '');
  if (address === undefined || network === undefined || !Number.isInteger(prefix)) return false;
  if (prefix < 0 || prefix > 32) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (address & mask) >>> 0 === (network & mask) >>> 0;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Whether `entry` of NO_PROXY matches `host` (lower-case, no brackets) at `port`. */
function matches(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  if (entry.includes('/')) return inCidr(host, entry);
  let name = entry;
  let entryPort: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed !== null) {
    name = bracketed[1]!;
    entryPort = bracketed[2];
  } else if (isIP(entry) === 0) {
    const colon = entry.lastIndexOf(':');
    if (colon > 0) {
      name = entry.slice(0, colon);
      entryPort = entry.slice(colon + 1);
    }
  }
  if (entryPort !== undefined && entryPort !== port) return false;
  if (isIP(name) !== 0) return name === host;
  // As Go: `*.example.com` is `.example.com`, which matches subdomains only.
  const domain = name.startsWith('*.') ? name.slice(1) : name;
  if (domain.startsWith('.')) return host.endsWith(domain);
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * The proxy `url` goes through under `config`, or undefined to connect directly.
 *
 * @example proxyFor(new URL('https://registry.example/v2/'), proxyFromEnv(process.env))
 */
export function proxyFor(url: URL, config: ProxyConfig | undefined): URL | undefined {
  if (config === undefined) return undefined;
  const proxy = url.protocol === 'https:' ? config.httpsProxy : config.httpProxy;
  if (proxy === undefined) return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (isLoopback(host)) return undefined;
  const port = url.port === '' ? defaultPort(url.protocol) : url.port;
  if ((config.noProxy ?? []).some((entry) => matches(entry, host, port))) return undefined;
  return proxy;
}

/** The `Proxy-Authorization` header of a proxy URL with credentials, or undefined. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '') return undefined;
  const user = decodeURIComponent(proxy.username);
  const password = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
