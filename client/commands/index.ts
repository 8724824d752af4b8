/** Every `chorus` command, in the order `chorus --help` lists them. */
import type { Command } from "../command.js";
import { monitor } from "./monitor.js";
import { nodes } from "./nodes.js";
import { broker, plane, prime, up } from "./services.js";
import { spawnCommand } from "./spawn.js";
import { subjectsCommand } from "./subjects.js";
import { userAdd } from "./user.js";

export const commands: Command[] = [
  up,
  broker,
  prime,
  plane,
  nodes,
  spawnCommand,
  monitor,
  subjectsCommand,
  userAdd,
];
