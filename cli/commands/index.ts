/** Every `chorus` command, in the order `chorus --help` lists them. */
import type { Command } from "../command.js";
import { hosts } from "./hosts.js";
import { monitor } from "./monitor.js";
import { nodes } from "./nodes.js";
import { play } from "./play.js";
import { playerCommand } from "./player.js";
import { broker, plane, prime, up } from "./services.js";
import { songs } from "./songs.js";
import { spawnCommand } from "./spawn.js";
import { subjectsCommand } from "./subjects.js";
import { syncNow, syncStatus } from "./sync.js";
import { userAdd } from "./user.js";
import { userAppPassword, userKeyCommand } from "./user-secrets.js";

export const commands: Command[] = [
  up,
  broker,
  prime,
  plane,
  nodes,
  spawnCommand,
  songs,
  play,
  playerCommand,
  syncStatus,
  syncNow,
  hosts,
  monitor,
  subjectsCommand,
  userAdd,
  userKeyCommand,
  userAppPassword,
];
