//! callweave-esl (work in progress)
