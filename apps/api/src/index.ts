export { createApp, servedOpenApiDocument as openApiDocument } from './app.js';
export { type ApiConfig, ConfigError, loadConfig } from './config.js';
export { type RunningApi, startApi } from './server.js';
