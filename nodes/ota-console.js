// Node-RED loads this file as a plugin. It is written in TypeScript in src/nodes/ota-console.ts
// and compiled into build/ by `npm run build` (run by `npm install` through the prepare script).
module.exports = require('../build/src/nodes/ota-console.js');
