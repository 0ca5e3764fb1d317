import type { FastifyReply, FastifyRequest } from 'fastify';

/** The map tile server for img-src: `https://{s}.tile.example.org/{z}/{x}/{y}.png` → `https://*.tile.example.org`. */
function tileSource(tileUrl: string | null): string {
  const match = tileUrl ? /^(https?:)\/\/([^/?#]+)/.exec(tileUrl) : null;
  if (!match) return '';
  const host = match[2]!.replace(/^\{[^}]*\}\./, '*.');
  // CSP allows a wildcard only as the whole leftmost label: anything else falls back to the scheme.
  return /[{}*]/.test(host.replace(/^\*\./, '')) ? ` ${match[1]}` : ` ${match[1]}//${host}`;
}

/** Scripts only from this origin, nothing may frame us; inline styles for the HTML reports and the map. */
export function contentSecurityPolicy(tileUrl: string | null): string {
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:${tileSource(tileUrl)}; connect-src 'self'; font-src 'self' data:; media-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
}

/** An onSend hook for the root instance (issue 12, item 16): every response, board, API, reports and receiver pages alike. */
export function securityHeaders(tileUrl: () => string | null) {
  return async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    reply.header('Content-Security-Policy', contentSecurityPolicy(tileUrl())).header('X-Frame-Options', 'DENY').header('X-Content-Type-Options', 'nosniff');
    // A route may be stricter: a receiver link's pages send no Referer at all (the token is in the path).
    if (!reply.hasHeader('Referrer-Policy')) reply.header('Referrer-Policy', 'strict-origin-when-cross-origin');
    return payload;
  };
}
