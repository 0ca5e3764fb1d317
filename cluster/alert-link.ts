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
  return {
    nodeId: bus.nodeId,
    share: (fact) => bus.publish(FACTS, fact),
    async follow(handlers) {
      await bus.subscribe(FACTS, (body, from) => {
        const parsed = sharedFactSchema.safeParse(body);
        if (!parsed.success) return log.warn({ from, problem: parsed.error.message }, 'cluster: an alert event from another node does not validate; ignored');
        handlers.fact(parsed.data);
      });
      await bus.subscribe(CLAIMS, (body, from) => {
        const parsed = claimSchema.safeParse(body);
        if (parsed.success) handlers.claimed(parsed.data.deviceId, from);
      });
    },
    claim(deviceId) {
      bus.publish(CLAIMS, { deviceId });
      bus
        .setField(JUDGES, deviceId, bus.nodeId)
        .catch((err: Error) => log.warn({ err: err.message, deviceId }, 'cluster: the judge of a device could not be recorded'));
    },
    async judgedHere() {
      const judges = await bus.fields(JUDGES);
      return Object.keys(judges).filter((deviceId) => judges[deviceId] === bus.nodeId);
    },
    notifies: () => lease.held(),
    stop: () => lease.stop(),
  };
}
