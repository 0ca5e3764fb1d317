import { z } from 'zod';

/** `:id` of a device, place, alert, incident, shipment, sensor or site. */
export const idParams = z.object({ id: z.string() });

/** `{ count, <name>: [...] }`: how every list answers; `listed` builds the answer. */
export const listOf = <K extends string, T extends z.ZodType>(name: K, item: T) =>
  z.object({ count: z.number(), [name]: z.array(item) } as { count: z.ZodNumber } & Record<K, z.ZodArray<T>>);
export const listed = <K extends string, T>(name: K, items: T[]) => ({ count: items.length, [name]: items }) as { count: number } & Record<K, T[]>;
