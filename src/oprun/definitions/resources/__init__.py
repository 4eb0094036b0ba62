"""Resources and IO managers: `ResourceDefinition`, `@resource`, `IOManager`, pythonic
(`Configurable*`) resources, and the built-in filesystem IO manager."""
