//! `questpath.v1` client messages to the commands of a learner's session. Room messages
//! go to the room link instead (`None` here).

use questpath_actors::session::Command;

use super::protocol::ClientMessage;

/// The session command a client message asks for, or `None` for a room message.
pub fn session_command(message: ClientMessage) -> Option<Command> {
    Some(match message {
        ClientMessage::Ping => Command::Ping,
        ClientMessage::QuizStart { level_id } => Command::StartQuiz { level_id },
        ClientMessage::QuizAnswer { position, option } => Command::Answer { position, option },
        ClientMessage::QuizAbandon => Command::Abandon,
        ClientMessage::SessionState => Command::State,
        ClientMessage::LeaderboardSubscribe { board } => Command::FollowBoard { board },
        ClientMessage::LeaderboardUnsubscribe { board } => Command::UnfollowBoard { board },
        ClientMessage::RoomJoin { .. }
        | ClientMessage::RoomLeave
        | ClientMessage::RoomAnswer { .. }
        | ClientMessage::RoomState
        | ClientMessage::RoomStart
        | ClientMessage::RoomNext
        | ClientMessage::RoomCloseQuestion
        | ClientMessage::RoomSkip
        | ClientMessage::RoomKick { .. }
        | ClientMessage::RoomPause
        | ClientMessage::RoomResume
        | ClientMessage::RoomEnd => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::room_link::is_room_message;

    #[test]
    fn every_message_goes_to_exactly_one_of_the_session_and_the_room_link() {
        let messages = [
            ClientMessage::Ping,
            ClientMessage::QuizAbandon,
            ClientMessage::SessionState,
            ClientMessage::LeaderboardSubscribe { board: "x".into() },
            ClientMessage::RoomLeave,
            ClientMessage::RoomStart,
            ClientMessage::RoomEnd,
            ClientMessage::RoomAnswer {
                question: 0,
                option: "A".into(),
            },
        ];
        for message in messages {
            let room = is_room_message(&message);
            assert_eq!(
                session_command(message.clone()).is_none(),
                room,
                "{message:?}"
            );
        }
    }
}
