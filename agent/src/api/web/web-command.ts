/** The web page's listener and its dependencies (the session key is read here, once, at start). */
import type { ApiDeps } from '../api-handler';
import type { TokenReviewer } from '../authn';
import { instrument } from '../instrument';
import type { ApiConfig } from '../config';
import type { Handler, Listener } from '../tls-server';
import { handleWeb } from './web-handler';
import { Sessions } from './session';

export interface WebListeners {
  readonly tls: (handler: Handler) => Promise<Listener>;
  readonly loopback: (handler: Handler) => Promise<Listener>;
}

export async function startWeb(config: ApiConfig, deps: ApiDeps & { tokens: TokenReviewer }, listeners: WebListeners): Promise<Listener> {
  const key = config.sessionKey;
  if (config.webMode === 'token-login' && !key.shared) {
    deps.logger.warn('no shared session key: each replica signs its own sessions (create the session Secret, docs/access-control.md)');
  }
  const mode = config.webMode === 'oauth-proxy' ? 'oauth-proxy' : 'token-login';
  const web = { ...deps, mode, sessions: new Sessions(key.key, config.sessionTtlMs, deps.now), sessionTtlMs: config.sessionTtlMs } as const;
  const handler = instrument(deps.metrics, deps.logger, (req, res) => handleWeb(req, res, web));
  return mode === 'oauth-proxy' ? listeners.loopback(handler) : listeners.tls(handler);
}
