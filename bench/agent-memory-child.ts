import { runAgentMemoryChild } from './agent-memory.js';

// Entry point of the agent-side memory child (see agent-memory.ts): a bundle of
// its own, holding only the schema and the renderer, as the agent's would.
runAgentMemoryChild(process.argv[2] ?? '', process.argv[3] ?? '');
