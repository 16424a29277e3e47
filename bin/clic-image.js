#!/usr/bin/env node
// Entry point: recipes and the builder are TypeScript, loaded through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../builder/cli.ts');
