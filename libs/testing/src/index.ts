export { chromiumPath } from './chromium.js';
export { freePort } from './free-port.js';
export { assertRedisCliInstalled, RedisCluster, type RedisClusterOptions } from './redis-cluster.js';
export { assertRedisInstalled, RedisServer, type RedisServerOptions } from './redis-server.js';
export { type RespReply, redisCommand } from './resp.js';
