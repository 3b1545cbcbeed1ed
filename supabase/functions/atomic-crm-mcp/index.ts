// The Atomic CRM MCP server as a Supabase Edge Function. Build app.js first (`npm run build:edge`:
// runtimes/edge.ts and src/ in one file); deno.json maps its npm packages (`npm:` specifiers,
// generated from package.json). The folder name is the function's name and its path prefix.
import { edgeFunction } from './app.js';

const handler = edgeFunction(Deno.env.toObject(), 'atomic-crm-mcp');

// The platform retires idle isolates with `beforeunload`: return the pool's connections first.
addEventListener('beforeunload', () => void handler.close());

// On the platform exactly the documented call; plain Deno (the tests) listens where PORT says.
const port = Deno.env.get('PORT');
if (port) Deno.serve({ port: Number(port) }, handler.fetch);
else Deno.serve(handler.fetch);
