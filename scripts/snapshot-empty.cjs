// Stands in for modules fleetmasq never uses inside the start-up snapshot (see scripts/snapshot.mjs).
module.exports = {};
