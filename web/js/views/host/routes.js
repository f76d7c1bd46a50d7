// Filled in by the host screens.
export const routes = [];
