/* Quick-check quizzes: plain HTML buttons (keyboard accessible by nature) and a little JS.
 *
 * Markup (written in the lessons):
 *   <div class="rlhf-quiz" data-quiz="ID">
 *     <p class="rlhf-quiz-question">Question?</p>
 *     <div class="rlhf-quiz-options">
 *       <button type="button" class="md-button" data-correct="true|false" data-feedback="why">..</button>
 *     </div>
 *     <p class="rlhf-quiz-feedback" role="status" aria-live="polite"></p>
 *   </div>
 * Choosing an option marks it (aria-pressed, a class, a visible "Correct"/"Not quite" word,
 * not colour alone) and shows its feedback; the reader may try every option. The last
 * answer is kept in this browser (progress.js, key "quiz:ID": the option's text) and shown
 * again on the next visit; an answer whose option no longer exists is forgotten.
 */
(function () {
  "use strict";
  var store = window.rlhfProgress || null;

  function setup(quiz) {
    if (quiz.hasAttribute("data-quiz-ready")) return;
    var options = quiz.querySelectorAll(".rlhf-quiz-options button");
    var feedback = quiz.querySelector(".rlhf-quiz-feedback");
    var key = "quiz:" + quiz.getAttribute("data-quiz");
    function choose(button, save) {
      var correct = button.getAttribute("data-correct") === "true";
      options.forEach(function (b) {
        b.setAttribute("aria-pressed", String(b === button));
        b.classList.remove("rlhf-quiz-chosen");
      });
      button.classList.add("rlhf-quiz-chosen", correct ? "rlhf-quiz-right" : "rlhf-quiz-wrong");
      quiz.setAttribute("data-answered", correct ? "correct" : "incorrect");
      if (feedback) {
        feedback.textContent = (correct ? "Correct. " : "Not quite. ") +
          (button.getAttribute("data-feedback") || "");
        feedback.classList.toggle("rlhf-quiz-feedback-right", correct);
        feedback.classList.toggle("rlhf-quiz-feedback-wrong", !correct);
      }
      if (save && store) {
        store.set(key, { answer: button.textContent.trim(), correct: correct, at: Date.now() });
      }
    }
    options.forEach(function (button) {
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", function () { choose(button, true); });
    });
    var saved = store && store.get(key);
    if (saved) {
      var match = Array.prototype.filter.call(options, function (b) {
        return b.textContent.trim() === saved.answer;
      })[0];
      if (match) choose(match, false);
      else store.remove(key);
    }
    quiz.setAttribute("data-quiz-ready", "true");
  }
  // this page's quizzes, and those of each page swapped in later (navigation.js)
  window.rlhfPages.each(function () { document.querySelectorAll(".rlhf-quiz").forEach(setup); });
})();
