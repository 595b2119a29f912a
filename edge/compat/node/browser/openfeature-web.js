// openfeature-web.js: page script of ../openfeature-web.js: OpenFeature's
// web SDK with the OFREP web provider, polling the bulk endpoint (with
// If-None-Match) every pollMs, no persistent cache.
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { install } from './harness';

install((a) => new OFREPWebProvider({
  baseUrl: a.baseUrl,
  headers: [['Authorization', 'Bearer ' + a.secret]],
  pollInterval: a.pollMs,
  changeDetection: 'polling',
  cacheMode: 'disabled',
}));
