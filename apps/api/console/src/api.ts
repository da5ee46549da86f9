/** A refusal of the API, as its problem+json says. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls /v1 with the console's API key; a problem becomes an ApiProblem carrying its detail. */
export class Api {
  constructor(
    readonly key: string,
    readonly onUnauthorized: () => void,
  ) {}

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.key}` };
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { ...this.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (response.status === 401) this.onUnauthorized();
    if (!response.ok) {
      const detail = (parsed as { detail?: unknown } | undefined)?.detail;
      throw new ApiProblem(
        response.status,
        typeof detail === 'string' ? detail : `${response.status} ${response.statusText}`,
      );
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }
}

/** Whether `key` is a key the API knows (any tenant's). */
export async function keyIsValid(key: string): Promise<boolean> {
  const response = await fetch('/v1/functions', { headers: { authorization: `Bearer ${key}` } });
  return response.status !== 401;
}
