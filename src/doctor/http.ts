/**
 * How the doctor talks to Supabase: every request bounded by the same timeout, redirects not
 * followed (a redirect is itself a finding, e.g. where sign-in is sent).
 */
export interface Http {
  request(url: string, init?: RequestInit): Promise<Response>;
  /** What the token check hands the verifier, so it reads the JWKS the same way. */
  fetch: typeof fetch;
  timeoutMs: number;
}

export function createHttp(fetchImpl: typeof fetch, timeoutMs: number): Http {
  return {
    request: (url, init = {}) =>
      fetchImpl(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(timeoutMs) }),
    fetch: fetchImpl,
    timeoutMs,
  };
}

/** A JSON object body, or null for anything else. */
export async function readJson(response: Response): Promise<Record<string, unknown> | null> {
  try {
    const body = (await response.json()) as unknown;
    return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
