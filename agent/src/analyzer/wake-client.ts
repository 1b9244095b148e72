/**
 * The uploader's nudge to the analyzer after each verified dump: one POST to ANALYZER_WAKE_URL, best
 * effort (2 s timeout, errors only logged at debug: the analyzer's periodic scan finds the dump anyway),
 * at most one in flight (a burst of uploads is one wake-up). node:http, not fetch: the uploader runs
 * with --jitless, where fetch (WebAssembly) is not available.
 */
import * as http from 'http';
import * as https from 'https';
import type { Logger } from '../runtime/logger';

const TIMEOUT_MS = 2000;

export function analyzerWaker(url: string, log: Logger): () => void {
  const target = new URL(url);
  const get = target.protocol === 'https:' ? https.request : http.request;
  let inFlight = false;
  let again = false;
  const send = (): void => {
    inFlight = true;
    const done = (error?: Error) => {
      if (error) log.debug('analyzer wake-up failed (its periodic scan will find the dump)', { target: target.origin, error });
      inFlight = false;
      if (again) {
        again = false;
        send();
      }
    };
    const req = get(target, { method: 'POST', timeout: TIMEOUT_MS, headers: { 'content-length': '0' } }, (res) => {
      res.resume();
      res.on('end', () => done());
      res.on('error', done);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', done);
    req.end();
  };
  return () => {
    if (inFlight) again = true;
    else send();
  };
}
