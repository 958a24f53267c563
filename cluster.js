// `require("pg-kopf/cluster")`: the components that install the controller (see infra/cluster.ts).
module.exports = require("./dist/infra/cluster");
