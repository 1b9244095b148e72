/** Every request of the API and web listeners: counted, timed, and an unexpected error is a 500 for that request only. */
import type * as http from 'node:http';
import type { Logger } from '../runtime/logger';
import type { ApiMetrics } from './metrics';
import { sendStatus, status } from './status';

/** Counts, times and guards one request: an unexpected error is a 500 for that request only. */
export function instrument(metrics: ApiMetrics, logger: Logger, handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<string>) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const t0 = process.hrtime.bigint();
    let verb = 'other';
    const done = () => {
      metrics.requests.inc({ verb, code: String(res.statusCode) });
      metrics.duration.observe({ verb }, Number(process.hrtime.bigint() - t0) / 1e9);
    };
    handle(req, res).then((v) => {
      verb = v;
      if (res.writableFinished) done();
      else res.once('close', done);
    }, (error: Error) => {
      logger.error('request failed', { error, path: (req.url ?? '').split('?')[0].slice(0, 200) });
      sendStatus(res, status(500, 'InternalError', 'internal error'));
      done();
    });
  };
}

