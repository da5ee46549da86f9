export { publishBuiltins } from './builtins.js';
export { ConfigError, loadConfig, type WorkerConfig } from './config.js';
export { WorkerNode, type WorkerNodeOptions } from './worker-node.js';
