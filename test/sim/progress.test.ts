/** The T3 steps of a download. */
import should from 'should';
import { ProgressSteps } from '../../src/sim/progress';

describe('ota-sim progress steps', function () {
  it('reports each multiple of 5 % as it is crossed, below 100', function () {
    const steps = new ProgressSteps(1000, 5);
    should(steps.advance(49)).eql([]);
    should(steps.advance(1)).eql([5]);
    should(steps.advance(120)).eql([10, 15]);
    should(steps.advance(830)).eql([20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95]);
    should(steps.percent).equal(100);
  });

  it('reports every step at least once even when one chunk brings the whole package', function () {
    should(new ProgressSteps(10, 25).advance(10)).eql([25, 50, 75]);
  });

  it('does not report a step twice when the server starts over', function () {
    const steps = new ProgressSteps(100, 10);
    should(steps.advance(35)).eql([10, 20, 30]);
    steps.restart();
    should(steps.percent).equal(0);
    should(steps.advance(45)).eql([40]);
  });

  it('never says more than 100 % when the server sends more than announced', function () {
    const steps = new ProgressSteps(100, 50);
    steps.advance(150);
    should(steps.percent).equal(100);
  });
});
