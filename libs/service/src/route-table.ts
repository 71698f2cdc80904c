import { AppError, methodNotAllowed } from './errors.js';

/**
 * What every route of a node:http service declares once: its method, its path, and its metrics
 * label. GET also answers HEAD (RFC 9110 9.3.2: node:http sends the headers, content-length
 * included, without the body). Routing, 404/405 and the request metrics all derive from this.
 */
export interface RouteKey {
  readonly method: 'GET' | 'POST';
  /** The exact request target (query included: none of our routes takes one), or a pattern for a templated path. */
  readonly path: string | RegExp;
  /** Bounded: "METHOD /template", never the URL (an OCSP GET carries its whole request in the path). */
  readonly label: string;
}

export interface RouteTable<R extends RouteKey> {
  readonly routes: readonly R[];
  /** The route for exactly this method (HEAD as GET) and URL; undefined when there is none. */
  find(method: string | undefined, url: string): R | undefined;
  /** The methods of the routes at this URL (GET brings HEAD), sorted, for a 405's Allow; empty when there are none. */
  allowed(url: string): string[];
  /** Why no route takes the request: 405 with Allow when the path has other methods, else 404 (`notFound` its detail). */
  refusal(url: string, notFound?: string): AppError;
}

const pathMatches = (route: RouteKey, url: string): boolean => (typeof route.path === 'string' ? route.path === url : route.path.test(url));

/** A route table: a route declared twice (same method and path) stops the service at start. */
export function routeTable<R extends RouteKey>(routes: readonly R[]): RouteTable<R> {
  const keys = routes.map((r) => `${r.method} ${String(r.path)}`);
  const twice = keys.filter((k, i) => keys.indexOf(k) !== i);
  if (twice.length) throw new Error(`routes declared twice: ${twice.join(', ')}`);
  const allowed = (url: string): string[] => [...new Set(routes.filter((r) => pathMatches(r, url)).flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])))].sort();
  return {
    routes,
    find(method, url) {
      const m = method === 'HEAD' ? 'GET' : method;
      // A loop, not a map: a handful of routes, and this runs for every OCSP request.
      for (const r of routes) if (r.method === m && pathMatches(r, url)) return r;
      return undefined;
    },
    allowed,
    refusal(url, notFound = 'no such route') {
      const allow = allowed(url);
      return allow.length ? methodNotAllowed(allow) : new AppError('not-found', notFound);
    },
  };
}
