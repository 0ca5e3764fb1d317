import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { SessionStore } from '../core/sessions.js';
import type { AlertService } from '../alerts/service.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { InfluxClient } from '../storage/influx.js';
import { FleetCache } from './fleet-cache.js';
import { LiveHub } from './hub.js';
import { OverviewAnswers } from './overview-answers.js';
import { StreamTickets, type SharedTickets } from './tickets.js';

/**
 * What the board is served from, made once beside the HTTP API (api/server.ts) and handed to its
 * routes (api/board.ts, api/stream.ts), which only answer: the fleet's last readings following the
 * ingest pipeline, the overview shared by every board, the live stream and its tickets.
 */
export interface BoardLive {
  fleet: FleetCache;
  answers: OverviewAnswers;
  hub: LiveHub;
  tickets: StreamTickets;
  /** Ends every stream and ticket: first at shutdown, so no open stream holds the server's close. */
  endStreams(): void;
  /** Stops sharing overviews. */
  close(): void;
}

export function boardLive(deps: {
  registry: () => Registry;
  influx: InfluxClient;
  pipeline: IngestPipeline;
  alerts: AlertService;
  sessions: SessionStore;
  log: Logger;
  /** A cluster's tickets, shared by its nodes (cluster/api-link.ts). */
  sharedTickets?: SharedTickets;
}): BoardLive {
  const fleet = new FleetCache(deps.influx, deps.pipeline, deps.log);
  // Read at start, so no sign-in waits for a query over the fleet (live/README.md).
  fleet.prime();
  const answers = new OverviewAnswers({ registry: deps.registry, fleet, alerts: deps.alerts });
  const hub = new LiveHub({ pipeline: deps.pipeline, alerts: deps.alerts, sessions: deps.sessions });
  const tickets = new StreamTickets(deps.sharedTickets, (credential) => deps.sessions.holds(credential));
  return {
    fleet,
    answers,
    hub,
    tickets,
    endStreams: () => {
      tickets.close();
      hub.close();
    },
    close: () => answers.close(),
  };
}
