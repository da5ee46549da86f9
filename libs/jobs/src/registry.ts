import { createHash } from 'node:crypto';
import { BUILTIN_TENANT, type Keys } from './keys.js';
import {
  describeIssues,
  type FunctionDefaults,
  functionDefaultsSchema,
  functionNameSchema,
  parseFunctionRef,
  tenantSchema,
} from './schemas.js';
import { pausedFunctionsKey, pausedMember } from './store/admission.js';
import { unparkFunction } from './store/parking.js';
import type { RedisClient } from './store/scripts.js';

/** Largest function bundle accepted, in bytes. */
export const MAX_BUNDLE_BYTES = 5 * 1024 * 1024;

export interface DeployedFunction {
  readonly tenant: string;
  readonly name: string;
  readonly version: number;
  readonly sha256: string;
  readonly defaults: FunctionDefaults;
  readonly createdAt: number;
}

/** A deployment that cannot be accepted; `field` names what was wrong. */
export class RegistryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** A name a tenant cannot take for a function: a built-in function has it (a tenant's would shadow it). */
export class ReservedNameError extends RegistryError {
  constructor(readonly functionName: string) {
    super('name', `The name "${functionName}" is reserved: a built-in function has it. Choose another name.`);
    this.name = 'ReservedNameError';
  }
}

export function sha256Of(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

/**
 * Function bundles in Redis: sources stored once by sha256, versions numbered per tenant and
 * name, each with its default limits. Deploying the same source and defaults again returns the
 * latest version instead of making a new one.
 */
export class FunctionRegistry {
  /** Resolutions of "name" / "name@version" for a second; this instance's own deploys and deletes clear it. */
  private readonly resolved = new Map<
    string,
    { readonly at: number; readonly fn: Promise<DeployedFunction | undefined> }
  >();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly resolveCacheMs = 1000,
  ) {}

  /**
   * Deploys a new version of a function. The `builtin` tenant is reserved for the functions that
   * ship with the worker (`{ builtin: true }`): nobody can replace them for other tenants, and no
   * tenant can take a built-in's name (ReservedNameError), which would shadow it for that tenant.
   */
  async deploy(
    tenant: string,
    name: string,
    source: string,
    defaults: unknown = {},
    options: { readonly builtin?: boolean } = {},
  ): Promise<DeployedFunction & { readonly created: boolean }> {
    check(tenantSchema, tenant, 'tenant');
    if ((tenant === BUILTIN_TENANT) !== (options.builtin === true)) {
      throw new RegistryError(
        'tenant',
        tenant === BUILTIN_TENANT
          ? `tenant "${BUILTIN_TENANT}" is reserved for the functions that ship with the worker.`
          : 'only the built-in functions are deployed with { builtin: true }.',
      );
    }
    check(functionNameSchema, name, 'name');
    if (typeof source !== 'string' || source.trim() === '') {
      throw new RegistryError('code', 'code must be the JavaScript source of an ES module (a non-empty string).');
    }
    if (Buffer.byteLength(source) > MAX_BUNDLE_BYTES) {
      throw new RegistryError('code', `code is larger than ${MAX_BUNDLE_BYTES} bytes; bundle and minify it.`);
    }
    const parsedDefaults = check(functionDefaultsSchema, defaults, 'defaults');
    if (tenant !== BUILTIN_TENANT && (await this.isBuiltin(name))) throw new ReservedNameError(name);
    const sha256 = sha256Of(source);
    this.resolved.clear();
    const latest = await this.get(tenant, name);
    if (latest && latest.sha256 === sha256 && JSON.stringify(latest.defaults) === JSON.stringify(parsedDefaults)) {
      return { ...latest, created: false };
    }
    await this.redis.set(this.keys.bundle(sha256), source);
    const version = await this.redis.hincrby(this.keys.function(tenant, name), 'next', 1);
    const createdAt = Date.now();
    await this.redis
      .multi()
      .hset(this.keys.functionVersion(tenant, name, version), {
        sha256,
        defaults: JSON.stringify(parsedDefaults),
        createdAt: String(createdAt),
      })
      .hset(this.keys.function(tenant, name), { latest: String(version) })
      .sadd(this.keys.functionNames(tenant), name)
      .exec();
    return { tenant, name, version, sha256, defaults: parsedDefaults, createdAt, created: true };
  }

  /** Whether a built-in function has this name (the names the worker nodes have published). */
  async isBuiltin(name: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.functionNames(BUILTIN_TENANT), name)) === 1;
  }

  /** A version of a tenant's function (the latest when `version` is omitted). */
  async get(tenant: string, name: string, version?: number): Promise<DeployedFunction | undefined> {
    const wanted = version ?? Number(await this.redis.hget(this.keys.function(tenant, name), 'latest'));
    if (!wanted) return undefined;
    const fields = await this.redis.hgetall(this.keys.functionVersion(tenant, name, wanted));
    if (!fields.sha256) return undefined;
    return {
      tenant,
      name,
      version: wanted,
      sha256: fields.sha256,
      defaults: JSON.parse(fields.defaults ?? '{}') as FunctionDefaults,
      createdAt: Number(fields.createdAt),
    };
  }

  /**
   * Resolves "name" or "name@version" for a tenant: its own functions first, then the built-in
   * ones. (A tenant's function named like a built-in can only predate the names' reservation.)
   */
  resolve(tenant: string, ref: string): Promise<DeployedFunction | undefined> {
    const key = `${tenant}\u0000${ref}`;
    const cached = this.resolved.get(key);
    if (cached && Date.now() - cached.at < this.resolveCacheMs) return cached.fn;
    // The promise is cached: a batch of 500 jobs of one function reads the registry once.
    const fn = this.lookUp(tenant, ref);
    if (this.resolved.size > 10_000) this.resolved.clear();
    this.resolved.set(key, { at: Date.now(), fn });
    fn.catch(() => this.resolved.delete(key));
    return fn;
  }

  private async lookUp(tenant: string, ref: string): Promise<DeployedFunction | undefined> {
    const { name, version } = parseFunctionRef(ref);
    return (await this.get(tenant, name, version)) ?? (await this.get(BUILTIN_TENANT, name, version));
  }

  /** Forgets a cached resolution (the job store found it stale). */
  forget(tenant: string, ref: string): void {
    this.resolved.delete(`${tenant}\u0000${ref}`);
  }

  /** Every version of a function, newest first. */
  async versions(tenant: string, name: string): Promise<DeployedFunction[]> {
    const latest = Number(await this.redis.hget(this.keys.function(tenant, name), 'latest'));
    const found: DeployedFunction[] = [];
    for (let version = latest; version >= 1; version--) {
      const deployed = await this.get(tenant, name, version);
      if (deployed) found.push(deployed);
    }
    return found;
  }

  /** The latest version of every function a tenant has deployed, by name. */
  async list(tenant: string): Promise<DeployedFunction[]> {
    const names = (await this.redis.smembers(this.keys.functionNames(tenant))).sort();
    const latest = await Promise.all(names.map((name) => this.get(tenant, name)));
    return latest.filter((f): f is DeployedFunction => f !== undefined);
  }

  /**
   * Deletes a function and its versions. Bundles stay (content-addressed, possibly shared, and
   * jobs already submitted are pinned to them). Returns false when there was no such function.
   */
  async delete(tenant: string, name: string): Promise<boolean> {
    const latest = Number(await this.redis.hget(this.keys.function(tenant, name), 'latest'));
    if (!latest) return false;
    this.resolved.clear();
    const versionKeys = Array.from({ length: latest }, (_, i) => this.keys.functionVersion(tenant, name, i + 1));
    await this.redis
      .multi()
      .del(this.keys.function(tenant, name), ...versionKeys)
      .srem(this.keys.functionNames(tenant), name)
      .srem(pausedFunctionsKey(this.keys), pausedMember(tenant, name))
      .exec();
    // Jobs parked while it was paused come back, and end as the runs of a deleted function do.
    await unparkFunction(this.redis, this.keys, tenant, name, false);
    return true;
  }

  /**
   * Pauses (or resumes) a tenant's own function (ADR 0016): while paused, its jobs are accepted
   * and wait, none starts (a node that takes one parks it); runs already started go on. Resuming
   * brings the parked jobs back to the queue. Returns false when the tenant has no such
   * function (a built-in cannot be paused by a tenant).
   */
  async setPaused(tenant: string, name: string, paused: boolean): Promise<boolean> {
    if (!(await this.redis.hget(this.keys.function(tenant, name), 'latest'))) return false;
    if (paused) await this.redis.sadd(pausedFunctionsKey(this.keys), pausedMember(tenant, name));
    else await unparkFunction(this.redis, this.keys, tenant, name, true);
    return true;
  }

  /** Whether a tenant's function is paused. */
  async isPaused(tenant: string, name: string): Promise<boolean> {
    return (await this.redis.sismember(pausedFunctionsKey(this.keys), pausedMember(tenant, name))) === 1;
  }

  /** The source of a bundle, by its sha256. */
  async bundle(sha256: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.bundle(sha256))) ?? undefined;
  }
}

function check<T>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } },
  value: unknown,
  field: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RegistryError(field, describeIssues(parsed.error, field));
  return parsed.data;
}
