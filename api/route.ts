import type { FastifySchema } from 'fastify';
import { z } from 'zod';
import type { ApiRole } from '../core/config/schema.js';

export type { ApiPlugin } from './zod.js';

export const ANYONE = ['admin', 'operator', 'qa', 'viewer'] as const satisfies readonly ApiRole[];
/** Those who sign: alarms, custody, dispositions. */
export const HANDLERS = ['admin', 'operator', 'qa'] as const satisfies readonly ApiRole[];
export const REVIEWERS = ['admin', 'qa'] as const satisfies readonly ApiRole[];

/** A route's options: who may call it (checked by `authorize`, auth.ts) and what it takes and answers. */
export const route = <S extends FastifySchema>(roles: readonly ApiRole[], schema: S) => ({ config: { roles }, schema });

/** `:id` of a device, place, alert, incident, shipment, sensor or site. */
export const idParams = z.object({ id: z.string() });

/** `{ count, <name>: [...] }`: how every list answers; `listed` builds the answer. */
export const listOf = <K extends string, T extends z.ZodType>(name: K, item: T) =>
  z.object({ count: z.number(), [name]: z.array(item) } as { count: z.ZodNumber } & Record<K, z.ZodArray<T>>);
export const listed = <K extends string, T>(name: K, items: T[]) => ({ count: items.length, [name]: items }) as { count: number } & Record<K, T[]>;
