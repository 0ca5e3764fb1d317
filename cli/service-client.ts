import { loadConfig } from '../core/config/load.js';

/** How CLI commands reach the running service's HTTP API. */
export interface ServiceFlags {
  config?: string;
  url?: string;
  token?: string;
}

export function endpoint(flags: ServiceFlags): { base: string; headers: Record<string, string> } {
  // From --token-file, else $COLDCHAIN_API_TOKEN (both filled in by cli/main.ts's hooks).
  const token = flags.token;
  if (!token) throw new Error('an API token is needed: $COLDCHAIN_API_TOKEN or --token-file <file> (coldchain token create --role operator)');
  // With http.tls the API speaks HTTPS only; a self-signed certificate is trusted with NODE_EXTRA_CA_CERTS=<its .crt>.
  const base = flags.url ?? localBase(flags.config);
  return { base, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'User-Agent': 'coldchain-cli' } };
}

function localBase(config: string | undefined): string {
  const { http } = loadConfig(config).config;
  return `${http.tls ? 'https' : 'http'}://127.0.0.1:${http.port}`;
}

/** Calls the API; an error answer becomes an Error carrying the service's own message. */
export async function call(url: string, init: RequestInit, as: 'json' | 'raw' = 'json'): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new Error(
      `cannot reach the service at ${new URL(url).origin} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); is coldchain start running?`,
    );
  }
  if (!response.ok) {
    const text = await response.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: the text is the message
    }
    throw new Error(`${response.status}: ${message || 'request failed'}`);
  }
  return as === 'raw' ? response : response.json();
}
