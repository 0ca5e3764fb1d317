import { z } from 'zod';
import { instantQuerySchema as instant } from '../core/instant.js';

/** A point in time in a query: epoch ms or ISO 8601 with a zone, within what InfluxDB can hold. */
export { instant };

/** `:id` of a device, place, alert, incident, shipment, sensor or site. */
export const idParams = z.object({ id: z.string() });

/** A query's from/to: `to` left out is now, `from` left out is `span` ms before it; from must be before to. */
export const period = <T extends { from?: number; to?: number }>(query: z.ZodType<T>, span = 0) =>
  query
    .transform(({ from, to = Date.now(), ...rest }) => ({ ...rest, from: from ?? to - span, to }))
    .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] });

/** from/to (default the last 24 h) and a row limit: shared by the time-series routes. */
export const timeWindowSchema = period(
  z.object({ from: instant.optional(), to: instant.optional(), limit: z.coerce.number().int().min(1).max(100_000).default(10_000) }),
  86_400_000,
);

/** `{ count, <name>: [...] }`: how every list answers; `listed` builds the answer. */
export const listOf = <K extends string, T extends z.ZodType>(name: K, item: T) =>
  z.object({ count: z.number(), [name]: z.array(item) } as { count: z.ZodNumber } & Record<K, z.ZodArray<T>>);
export const listed = <K extends string, T>(name: K, items: T[]) => ({ count: items.length, [name]: items }) as { count: number } & Record<K, T[]>;
