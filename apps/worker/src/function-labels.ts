/** Distinct `function` label values one tenant may add to a node's job metrics. */
export const FUNCTIONS_PER_TENANT = 50;
/** Distinct `function` label values on one node, all tenants together. */
export const FUNCTION_LABELS = 1000;
/** The label of a function beyond either bound. */
export const OTHER_FUNCTIONS = '(other)';

/**
 * The `function` label of a job's metrics, with bounded cardinality: every function a tenant
 * deploys would otherwise add series to every node that runs it (a tenant deploying thousands
 * of functions would grow every node's memory and the operator's Prometheus without end). Each
 * tenant's first FUNCTIONS_PER_TENANT functions seen by this node, up to FUNCTION_LABELS in
 * all, are labelled by name; the rest are counted as OTHER_FUNCTIONS. Labels carry no tenant
 * (`/metrics` needs no key): two tenants' functions of one name share their series.
 */
export class FunctionLabels {
  private readonly byTenant = new Map<string, Set<string>>();
  private total = 0;

  constructor(
    private readonly perTenant = FUNCTIONS_PER_TENANT,
    private readonly most = FUNCTION_LABELS,
  ) {}

  of(tenant: string, fn: string): string {
    let names = this.byTenant.get(tenant);
    if (names?.has(fn)) return fn;
    if (names !== undefined && names.size >= this.perTenant) return OTHER_FUNCTIONS;
    if (this.total >= this.most) return OTHER_FUNCTIONS;
    if (names === undefined) {
      names = new Set();
      this.byTenant.set(tenant, names);
    }
    names.add(fn);
    this.total++;
    return fn;
  }
}
