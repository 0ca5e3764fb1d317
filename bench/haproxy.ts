/** A cluster node on this machine as HAProxy sees it: its `server` name and ports. */
export interface LocalNode {
  name: string;
  mqttPort: number;
  /** Only when the HTTP API is balanced too. */
  httpPort?: number;
}

/**
 * The lines of a haproxy.cfg for a cluster on this machine, shared by the bench and the cluster
 * tests: MQTT passed through as TCP, round robin onto the nodes; with `httpPort`, the HTTP API and
 * board as well, per request. deploy/cluster/haproxy.cfg is the layout as it is deployed.
 */
export function haproxyConfig(options: {
  maxconn: number;
  mqttPort: number;
  nodes: LocalNode[];
  /** Health checks, appended to every `server` line (none: HAProxy never marks a node down). */
  check?: string;
  /** A node that refuses a connection: try again, on another node (a shorter connect timeout too). */
  failover?: boolean;
  httpPort?: number;
}): string[] {
  const { nodes, check, httpPort } = options;
  const server = (name: string, port: number) => `  server ${name} 127.0.0.1:${port}${check ? ` ${check}` : ''}`;
  const http =
    httpPort === undefined
      ? []
      : [
          // The HTTP API and board behind the same HAProxy, any node answering.
          'frontend http',
          `  bind 127.0.0.1:${httpPort}`,
          '  mode http',
          '  default_backend api',
          'backend api',
          '  mode http',
          '  balance roundrobin',
          ...nodes.map((n) => server(n.name, n.httpPort!)),
        ];
  return [
    'global',
    `  maxconn ${options.maxconn}`,
    'defaults',
    '  mode tcp',
    ...(options.failover ? ['  retries 3', '  option redispatch', '  timeout connect 1s'] : ['  timeout connect 2s']),
    '  timeout client 5m',
    '  timeout server 5m',
    'frontend mqtt',
    `  bind 127.0.0.1:${options.mqttPort}`,
    '  default_backend nodes',
    'backend nodes',
    '  balance roundrobin',
    ...nodes.map((n) => server(n.name, n.mqttPort)),
    ...http,
  ];
}
