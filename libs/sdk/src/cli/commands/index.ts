import type { Command } from '../command.js';
import { deployCommand } from './deploy.js';
import { devCommand } from './dev.js';
import {
  functionsDeleteCommand,
  functionsGetCommand,
  functionsListCommand,
  functionsPauseCommand,
  functionsResumeCommand,
} from './functions.js';
import { jobsCancelCommand, jobsGetCommand, jobsListCommand, jobsLogsCommand, jobsRetryCommand } from './jobs.js';
import { killCommand, psCommand, sendCommand } from './processes.js';
import { runCommand } from './run.js';
import {
  schedulesCreateCommand,
  schedulesDeleteCommand,
  schedulesGetCommand,
  schedulesListCommand,
  schedulesPauseCommand,
  schedulesResumeCommand,
} from './schedules.js';
import { topCommand } from './top.js';

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  deployCommand,
  devCommand,
  runCommand,
  jobsListCommand,
  jobsGetCommand,
  jobsCancelCommand,
  jobsRetryCommand,
  jobsLogsCommand,
  psCommand,
  killCommand,
  sendCommand,
  topCommand,
  functionsListCommand,
  functionsGetCommand,
  functionsDeleteCommand,
  functionsPauseCommand,
  functionsResumeCommand,
  schedulesListCommand,
  schedulesGetCommand,
  schedulesCreateCommand,
  schedulesPauseCommand,
  schedulesResumeCommand,
  schedulesDeleteCommand,
];
