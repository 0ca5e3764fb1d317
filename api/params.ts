import { z } from 'zod';
import { instantQuerySchema as instant } from '../core/instant.js';

/** A point in time in a query: epoch ms or ISO 8601 with a zone, within what InfluxDB can hold. */
export { instant };

/** `:id` of a device, place, alert, incident, shipment or sensor. */
export const idParams = z.object({ id: z.string() });

/** from/to (ISO 8601 or epoch ms; default the last 24 h) and a row limit: shared by the time-series routes. */
export const timeWindowSchema = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
  })
  .transform((q) => {
    const to = q.to ?? Date.now();
    return { from: q.from ?? to - 86_400_000, to, limit: q.limit };
  })
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] });

/** `{ count, <name>: [...] }`: how every list answers. */
export const listOf = <K extends string, T extends z.ZodType>(name: K, item: T) =>
  z.object({ count: z.number(), [name]: z.array(item) } as { count: z.ZodNumber } & Record<K, z.ZodArray<T>>);
