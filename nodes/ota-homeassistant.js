// Node-RED loads this file. The node is written in TypeScript in src/nodes/ota-homeassistant.ts and
// compiled into build/ by `npm run build` (run by `npm install` through the prepare script).
module.exports = require('../build/src/nodes/ota-homeassistant.js');
