// The graphql-http server audit (GraphQL over HTTP conformance) against a running server.
//   node audit.mjs URL ['header-name: value' ...]
// Each header is added to every request the audit sends. Prints one JSON array of
// {id, name, status, reason?, responseStatus?, responseBody?} to stdout; exits 0 unless
// the audit itself could not run.
import { serverAudits } from 'graphql-http';

const [url, ...headerArgs] = process.argv.slice(2);
if (!url) {
  console.error('usage: node audit.mjs URL [header: value ...]');
  process.exit(2);
}
const extraHeaders = headerArgs.map((arg) => {
  const colon = arg.indexOf(':');
  return [arg.slice(0, colon).trim(), arg.slice(colon + 1).trim()];
});

function fetchWithHeaders(input, init = {}) {
  const headers = new Headers(init.headers);
  for (const [name, value] of extraHeaders) headers.set(name, value);
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url, fetchFn: fetchWithHeaders })) {
  const result = await audit.fn();
  const summary = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    summary.reason = result.reason;
    summary.responseStatus = result.response.status;
    try {
      summary.responseBody = await result.response.text();
    } catch {
      summary.responseBody = null; // the audit already read it
    }
  }
  results.push(summary);
}
process.stdout.write(JSON.stringify(results));
