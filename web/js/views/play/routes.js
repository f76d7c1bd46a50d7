// Filled in by the play screens.
export const routes = [];
