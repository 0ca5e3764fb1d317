import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { sharedFactSchema, type AlertCluster } from '../alerts/cluster.js';
import type { ClusterBus } from './bus.js';

const FACTS = 'alert-facts';
const CLAIMS = 'judges';
/** deviceId → the node judging it (the one that last took its connection). */
const JUDGES = 'judges';
const claimSchema = z.object({ deviceId: z.string() });

/**
 * The alert service's side of the cluster on the bus: alert and incident events shared on one
 * channel, device claims on another (and kept in a hash, for a node that restarts), and the
 * notification lease. `leaseMs` is how long notifications wait after their node died.
 */
export function alertLink(bus: ClusterBus, log: Logger, leaseMs = 10_000): AlertCluster {
  const lease = bus.lease('notifications', leaseMs);
  /** Devices this node claimed and still judges: recorded again when Redis comes back (it may come back empty). */
  const mine = new Set<string>();
  const record = (deviceId: string) =>
    bus
      .setField(JUDGES, deviceId, bus.nodeId)
      .catch((err: Error) => log.warn({ err: err.message, deviceId }, 'cluster: the judge of a device could not be recorded'));
  let resync: ((sinceMs: number) => void) | undefined;
  bus.onReconnect((awaySince) => {
    for (const deviceId of mine) void record(deviceId);
    resync?.(awaySince);
  });
  return {
    nodeId: bus.nodeId,
    share: (fact) => bus.publish(FACTS, fact),
    async follow(handlers) {
      resync = handlers.resync;
      await bus.subscribe(FACTS, (body, from) => {
        const parsed = sharedFactSchema.safeParse(body);
        if (!parsed.success) return log.warn({ from, problem: parsed.error.message }, 'cluster: an alert event from another node does not validate; ignored');
        handlers.fact(parsed.data);
      });
      await bus.subscribe(CLAIMS, (body, from) => {
        const parsed = claimSchema.safeParse(body);
        if (!parsed.success) return;
        mine.delete(parsed.data.deviceId);
        handlers.claimed(parsed.data.deviceId, from);
      });
    },
    claim(deviceId) {
      mine.add(deviceId);
      bus.publish(CLAIMS, { deviceId });
      void record(deviceId);
    },
    async judgedHere() {
      const judges = await bus.fields(JUDGES);
      const here = Object.keys(judges).filter((deviceId) => judges[deviceId] === bus.nodeId);
      for (const deviceId of here) mine.add(deviceId);
      return here;
    },
    notifies: () => lease.held(),
    stop: () => lease.stop(),
  };
}
