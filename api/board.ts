import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { boardBuilt, boardFile, boardSettings, boardSettingsSchema } from '../live/board-files.js';
import { buildSparklines, compactOverviewSchema, overviewQuerySchema, overviewSchema, sparklinesQuerySchema, sparklinesSchema } from '../live/overview.js';
import { signedInSchema, signInSchema } from '../core/sessions.js';
import { notFound } from './http-error.js';
import { signInOrRefuse } from './sessions.js';
import { ANYONE, type ApiPlugin, route } from './route.js';
import type { RouteDeps } from './server.js';

export type { BoardSettings } from '../live/board-files.js';

/**
 * `?tiles=`: at most so many sensors a place in the sign-in's overview, the rest counted (`more`):
 * what the board's first screen draws (500 at most: a wall screen shows fewer; each number asked
 * for is kept as a body for the second the overview is shared). The board asks for the whole
 * overview once it is drawn.
 */
export const boardSignInQuerySchema = z.object({ tiles: z.coerce.number().int().min(1).max(500).optional() });
/** The board's sign-in answer: the session, its token, and the compact overview without sparklines. */
export const boardSignedInSchema = signedInSchema.extend({ overview: compactOverviewSchema });
export type BoardSignedIn = z.infer<typeof boardSignedInSchema>;

/**
 * The live board: its built files (live/board-files.ts; hashed assets are cached for good, their
 * names change with their content), its settings, and what it draws on arrival (live/overview.ts).
 */
export const boardRoutes: ApiPlugin<RouteDeps> = async (app, { registry, live: { fleet, answers } }) => {
  const send = async (reply: FastifyReply, cache: string, ...parts: string[]) => {
    const file = await boardFile(...parts);
    if (!file) throw notFound(`no ${parts.at(-1)}`);
    return reply.type(file.type).header('Cache-Control', cache).send(file.body);
  };
  app.get('/', async (_request, reply) => {
    if (!boardBuilt()) return reply.code(503).type('text/plain; charset=utf-8').send('The live board is not built: run "npm run build" (npm ci does it).\n');
    return send(reply, 'no-cache', 'index.html');
  });
  app.get('/assets/*', { schema: { params: z.object({ '*': z.string() }) } }, async (request, reply) => {
    const name = request.params['*'];
    if (!/^[\w.-]+$/.test(name)) throw notFound('no such asset');
    return send(reply, 'public, max-age=31536000, immutable', 'assets', name);
  });
  app.get('/api/v1/board-settings', { schema: { response: { 200: boardSettingsSchema } } }, async () => boardSettings(registry().config));

  /**
   * Sign-in and the overview in one answer (the compact form without sparklines, as the board asks
   * for it): the board's first tiles wait for one round trip after the password check, not two, and
   * are drawn in the same frame as the board itself. The overview is the one every board shares
   * (live/overview-answers.ts), spliced in as it was serialized. It is asked for when the password's
   * hash starts, and built while scrypt runs on its own thread: its build (8–12 ms at 2,000
   * sensors) no longer adds to the wait. Only a sign-in the throttle let through to a hash asks
   * for it (never a locked or queued-out one), a refused one never sees it, and near-simultaneous
   * ones share one build (at most one a second). `Server-Timing` tells how long the sign-in (the
   * password check) took, and how long the answer then still waited for the overview. With
   * `?tiles=`, each place brings only the sensors the board's first screen draws.
   */
  const signInOverview = overviewQuerySchema.parse({ sparklines: 'false', compact: 'true' });
  app.post(
    '/api/v1/board/sign-in',
    { schema: { body: signInSchema, querystring: boardSignInQuerySchema, response: { 201: boardSignedInSchema } } },
    async (request, reply) => {
      const { tiles } = request.query;
      const started = performance.now();
      let building: Promise<Buffer> | undefined;
      const session = await signInOrRefuse(request, request.body, () => {
        building = answers.answer(signInOverview, tiles);
        // Awaited below once the password was right; a refused sign-in leaves it unread.
        building.catch(() => undefined);
      });
      const checked = performance.now();
      const overview = await (building ?? answers.answer(signInOverview, tiles));
      const body = Buffer.concat([Buffer.from(`${JSON.stringify(session).slice(0, -1)},"overview":`), overview, Buffer.from('}')]);
      return reply
        .code(201)
        .type('application/json; charset=utf-8')
        .header('Server-Timing', `sign-in;dur=${(checked - started).toFixed(1)}, overview;dur=${(performance.now() - checked).toFixed(1)}`)
        .send(body as never);
    },
  );
  app.get(
    '/api/v1/overview',
    route(ANYONE, { querystring: overviewQuerySchema, response: { 200: z.union([overviewSchema, compactOverviewSchema]) } }),
    // Serialized once for all clients asking within a second (live/overview-answers.ts): the body
    // is the schema's JSON already, sent as it is.
    async (request, reply) => reply.type('application/json; charset=utf-8').send((await answers.answer(request.query)) as never),
  );
  app.get('/api/v1/overview/sparklines', route(ANYONE, { querystring: sparklinesQuerySchema, response: { 200: sparklinesSchema } }), async (request) =>
    buildSparklines(registry(), fleet, request.query.hours),
  );
};
